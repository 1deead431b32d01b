"""Everything that ships in the Lambda package: settings, domain, adapters, steps, API."""
