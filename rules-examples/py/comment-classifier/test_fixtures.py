from verdict_rules.testing import fixture_test

test_fixtures = fixture_test("app.py", "fixtures")
