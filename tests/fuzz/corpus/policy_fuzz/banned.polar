# Negation: banned users keep read access but cannot post or moderate.
actor User {}

resource Forum {
  roles = ["member", "moderator"];
  permissions = ["read", "post", "moderate"];

  "member" if "moderator";
  "read" if "member";
  "post" if "member" and not is_banned(actor);
  "moderate" if "moderator" and not (is_banned(actor) or is_suspended(actor, resource));
}

test "banned members read but do not post" {
  setup {
    has_role(User{"bo"}, "member", Forum{"general"});
    is_banned(User{"bo"});
  }
  assert allow(User{"bo"}, "read", Forum{"general"});
  assert_not allow(User{"bo"}, "post", Forum{"general"});
}

test "members in good standing post" {
  setup {
    has_role(User{"al"}, "member", Forum{"general"});
    is_banned(User{"bo"});
  }
  assert allow(User{"al"}, "post", Forum{"general"});
  assert_not allow(User{"al"}, "moderate", Forum{"general"});
}

test "suspended moderators cannot moderate that forum" {
  setup {
    has_role(User{"mo"}, "moderator", Forum{"general"});
    has_role(User{"mo"}, "moderator", Forum{"random"});
    is_suspended(User{"mo"}, Forum{"random"});
  }
  assert allow(User{"mo"}, "moderate", Forum{"general"});
  assert_not allow(User{"mo"}, "moderate", Forum{"random"});
  assert allow(User{"mo"}, "post", Forum{"random"});
}
