"""The autopilot face: watch the suite, fix what fails in isolation, propose pull requests, undo on request."""
