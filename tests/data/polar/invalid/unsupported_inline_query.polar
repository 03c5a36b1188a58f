?= allow("alice", "read", "repo");
