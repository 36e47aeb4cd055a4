"""Building blocks of the DATEV API client: endpoints, models, errors, HTTP log, polling."""
