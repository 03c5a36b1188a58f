allow(user, "read", repo) if user.has_role("admin");
