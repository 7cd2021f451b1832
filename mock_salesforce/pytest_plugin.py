"""pytest plugin (entry point `sfperf_mock`): fixtures that start the mock Salesforce."""
