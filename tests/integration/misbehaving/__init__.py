"""Small clients of the mock Salesforce that each make one mistake a gateway can make (or none)."""
