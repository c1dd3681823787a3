"""policywatch's command line, the check loop, and (later) diffing, alerts and the scheduler."""
