allow(user, "read", repo) if repo.owner = user;
