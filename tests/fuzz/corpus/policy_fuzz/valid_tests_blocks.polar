actor User {}
resource Doc {
  roles = ["reader"];
  permissions = ["read"];
  "read" if "reader";
}
family(a: String, b: String) if parent(a, b) or parent(b, a);

test fixture readers {
  has_role(User{"ann"}, "reader", Doc{"a"});
  has_role(User{"ann"}, "reader", Doc{"b"});
}

test "fixtures and iff" {
  setup {
    fixture readers;
    has_role(User{"bob"}, "reader", Doc{"c"});
  }
  assert allow(User{"ann"}, "read", Doc{"a"});
  assert_not allow(User{"bob"}, "read", Doc{"a"});
  assert allow(User{"ann"}, "read", d: Doc) iff d in [Doc{"a"}, Doc{"b"}];
  assert allow(u: User, "read", Doc{"c"}) iff u in [User{"bob"}];
}

test "any predicate" {
  setup {
    parent("Bernie", "Pat");
  }
  assert family("Pat", "Bernie");
  assert_not family("Pat", "Morgan");
  assert family("Bernie", x) iff x in ["Pat"];
}
