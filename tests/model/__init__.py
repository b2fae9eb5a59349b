"""Model-based tests: a reference model of the ledger, written from the
contract alone (plain dicts and Decimal, nothing imported from the
application), driven side by side with a real server through random
interleavings of operations."""
