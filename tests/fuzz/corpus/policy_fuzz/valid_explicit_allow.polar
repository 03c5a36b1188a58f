actor User {}
resource Repo {
  roles = ["reader"];
  permissions = ["read"];
  "read" if "reader";
}
allow(actor: User, "read", repo: Repo) if has_permission(actor, "read", repo) and not is_frozen(repo);
allow(_: User, "read", repo: Repo) if is_public(repo);
