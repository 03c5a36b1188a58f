actor User {}
resource Repository {}
has_permission(_: User, "read", repo: Repository) if repo.is_public;
