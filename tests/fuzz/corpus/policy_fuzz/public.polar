# Public resources: a shorthand body that mixes a role name and a call.
actor User {}

resource Repository {
  roles = ["viewer", "maintainer"];
  permissions = ["view", "push"];

  "view" if "viewer" or is_public(resource);
  "push" if "maintainer";
  "viewer" if "maintainer";
}

test "public repositories are visible to everyone" {
  setup {
    is_public(Repository{"docs"});
  }
  assert allow(User{"anyone"}, "view", Repository{"docs"});
  assert_not allow(User{"anyone"}, "push", Repository{"docs"});
  assert_not allow(User{"anyone"}, "view", Repository{"private"});
}

test "private repositories need a role" {
  setup {
    is_public(Repository{"docs"});
    has_role(User{"vic"}, "viewer", Repository{"private"});
  }
  assert allow(User{"vic"}, "view", Repository{"private"});
  assert allow(User{"vic"}, "view", r: Repository) iff r in [Repository{"docs"}, Repository{"private"}];
  assert_not allow(User{"vic"}, "push", Repository{"private"});
}
