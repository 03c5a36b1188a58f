test "same" { assert true_fact(1); }
test "same" { assert true_fact(2); }
