next(x: Integer, y: Integer) if y = x + 1;
test "arithmetic" { assert next(1, 2); }
