"""The sandbox commands (demo, emulators), added to ml-connector through an entry point."""
