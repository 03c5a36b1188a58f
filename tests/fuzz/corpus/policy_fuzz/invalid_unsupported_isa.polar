typed(x) if x isa User;
