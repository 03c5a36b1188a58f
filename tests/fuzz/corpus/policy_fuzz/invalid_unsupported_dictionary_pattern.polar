allow(user: User, "read", repo) if user matches User and repo = Repo{name: "anvils"};
