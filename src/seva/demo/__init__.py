"""Demo data: realistic departments, services, datasets, offices and a sample application."""
