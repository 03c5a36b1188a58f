# Regression seed (UBSan nonnull-attribute, common/eval/segment.cc:936 and
# :953): a test block without setup facts builds an empty FactIndex, and the
# harness's Authorize runs over another one.
actor User {}
resource Doc { permissions = ["read"]; }
test "no facts" {
  assert_not allow(User{"a"}, "read", Doc{"d"});
}
