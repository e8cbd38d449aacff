"""Citizens' service requests and their status timelines."""
