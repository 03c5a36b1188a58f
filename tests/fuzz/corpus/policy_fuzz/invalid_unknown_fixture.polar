test "uses a fixture" {
  setup {
    fixture missing;
  }
}
