# Plain rules with every expression form.
actor User {}
resource Doc {}

is_adult(user: User) if age(user, a) and a >= 18;
level_ok(user: User, doc: Doc) if level(user, l) and min_level(doc, m) and m <= l and l < 10;
same(x, y) if x = y;
differs(x: String, y: String) if x != y;
greater(x: Integer, y: Integer) if x > y;
big(x: Integer) if x > Integer{1000000} and x != -5;
flag(Doc{"readme"}, true);
flag(Doc{"license"}, Boolean{false});
named(String{"x"}, "y");
in_list(x) if x in ["a", "b", 3, true, Doc{"d"},];
kind(x) if x matches User or x matches Doc;
valid_now(token) if expires(token, t) and t > @current_unix_time;
any_tag(doc: Doc) if tagged(doc, _) and tagged(_, doc);
all_actors(a: Actor, r: Resource) if owns(a, r);
eq(x, y) if x == y;
# a comment between rules
no_body(1, "one");  # trailing comment
