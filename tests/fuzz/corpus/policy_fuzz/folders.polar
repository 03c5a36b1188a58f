# Folder hierarchy: every role on a parent folder holds on its children
# (`role if role on "parent"`), and a recursive plain rule for ancestors.
# Evaluation must terminate on cyclic data.
actor User {}

resource Folder {
  roles = ["viewer", "owner"];
  permissions = ["read", "delete"];
  relations = { parent: Folder };

  "read" if "viewer";
  "delete" if "owner";
  "viewer" if "owner";
  role if role on "parent";
}

is_ancestor(folder: Folder, ancestor: Folder) if
  has_relation(folder, "parent", ancestor);
is_ancestor(folder: Folder, ancestor: Folder) if
  has_relation(folder, "parent", p) and
  is_ancestor(p, ancestor);

test "roles flow down the folder tree" {
  setup {
    has_role(User{"ann"}, "owner", Folder{"root"});
    has_relation(Folder{"docs"}, "parent", Folder{"root"});
    has_relation(Folder{"specs"}, "parent", Folder{"docs"});
  }
  assert allow(User{"ann"}, "delete", Folder{"specs"});
  assert allow(User{"ann"}, "read", Folder{"docs"});
  assert is_ancestor(Folder{"specs"}, Folder{"root"});
  assert_not is_ancestor(Folder{"root"}, Folder{"specs"});
  assert_not allow(User{"bob"}, "read", Folder{"specs"});
}

test "cycles terminate" {
  setup {
    has_relation(Folder{"a"}, "parent", Folder{"b"});
    has_relation(Folder{"b"}, "parent", Folder{"a"});
    has_relation(Folder{"loop"}, "parent", Folder{"loop"});
    has_role(User{"ann"}, "viewer", Folder{"a"});
  }
  assert allow(User{"ann"}, "read", Folder{"b"});
  assert is_ancestor(Folder{"a"}, Folder{"a"});
  assert is_ancestor(Folder{"loop"}, Folder{"loop"});
  assert_not allow(User{"ann"}, "delete", Folder{"a"});
  assert_not allow(User{"ann"}, "read", Folder{"loop"});
  assert_not allow(User{"bob"}, "read", Folder{"a"});
  assert allow(User{"ann"}, "read", f: Folder) iff f in [Folder{"a"}, Folder{"b"}];
}
