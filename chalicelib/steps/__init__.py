"""Step implementations: the activities the state machines call. All I/O lives here, not in the ASL."""
