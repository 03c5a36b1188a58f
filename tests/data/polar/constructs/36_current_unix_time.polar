actor User {}
resource File {}
has_permission(_: Actor, "read", file: File) if
  expires_at(file, time) and @current_unix_time < time;
test "@current_unix_time" {
  setup {
    expires_at(File{"foo"}, 4102444800);
    expires_at(File{"old"}, 1670280790);
  }
  assert allow(User{"a"}, "read", File{"foo"});
  assert_not allow(User{"a"}, "read", File{"old"});
}
