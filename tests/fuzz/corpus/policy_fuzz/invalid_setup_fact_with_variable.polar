test "ground facts" {
  setup {
    parent(x, "Pat");
  }
}
