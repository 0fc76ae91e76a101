"""The client against a real `reporunner serve` (scripts/python-client-test.sh starts one):
RR_URL is its API, RR_NAME and RR_PASSWORD an admin user's, and the repository root holds
notes-app."""

import json
import os
import socket
import unittest

from reporunner_client import ApiError, Client, Unreachable, phases

URL = os.environ["RR_URL"]
NAME = os.environ["RR_NAME"]
PASSWORD = os.environ["RR_PASSWORD"]


class ClientTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rr = Client.with_password(URL, NAME, PASSWORD)

    def test_a_password_gives_a_token_and_the_token_says_who_it_is(self):
        self.assertTrue(self.rr.token.startswith("rr_"))
        me = self.rr.me()
        self.assertEqual(me["name"], NAME)
        self.assertEqual(me["tier"], "admin")
        self.assertTrue(me["manages_users"])

    def test_a_wrong_password_is_an_api_error_with_the_stable_code(self):
        with self.assertRaises(ApiError) as caught:
            Client.with_password(URL, NAME, "not the password")
        self.assertEqual(caught.exception.status, 401)
        self.assertEqual(caught.exception.code, "unauthorized")

    def test_a_bad_body_is_refused_with_its_reason(self):
        with self.assertRaises(ApiError) as caught:
            self.rr.runs_start({"path": "notes-app", "no_such_field": 1})  # type: ignore[typeddict-unknown-key]
        self.assertIn(caught.exception.status, (400, 422))

    def test_a_node_that_is_not_there_is_unreachable(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with self.assertRaises(Unreachable):
            Client(f"http://127.0.0.1:{port}", "rr_x").me()

    def test_analyze_and_search_answer_for_a_repository(self):
        profile = self.rr.analyze({"path": "notes-app"})
        frameworks = [f for c in profile["components"] for f in c.get("frameworks", [])]
        self.assertIn("flask", json.dumps(frameworks))
        answer = self.rr.search({"path": "notes-app", "query": "notes database", "k": 3})
        self.assertTrue(answer["hits"], answer)
        self.assertIn("path", answer["hits"][0])

    def test_a_business_clients_user_sees_its_client_only(self):
        shop = Client.with_password(
            URL, os.environ["RR_CLIENT_USER"], PASSWORD, client=os.environ["RR_CLIENT"]
        )
        self.assertTrue(shop.token.startswith(f"rr_{os.environ['RR_CLIENT']}."))
        me = shop.me()
        self.assertEqual(me["client"], os.environ["RR_CLIENT"])
        self.assertFalse(me["controls_admin"])
        # None of the node's users, and none of its admin functions.
        self.assertEqual(shop.runs_list(), [])
        self.assertEqual([u["name"] for u in shop.users_list()], [os.environ["RR_CLIENT_USER"]])
        with self.assertRaises(ApiError) as caught:
            shop.admin_tree()
        self.assertEqual(caught.exception.status, 403)

    def test_a_run_is_followed_event_by_event_to_its_report(self):
        started = self.rr.start_run("notes-app", run_tests=True)
        self.assertEqual(started["events"], f"/v1/runs/{started['id']}/events")
        kinds = []
        view = self.rr.wait(started["id"], on_event=lambda e: kinds.append(e.event))
        self.assertEqual(kinds[0], "created")
        self.assertIn("phase_started", kinds)
        self.assertEqual(kinds[-1], "finished")
        self.assertEqual(view["run"]["status"], "succeeded", view["run"])
        self.assertEqual(view["report"]["rung"], "tests_pass", view["report"])
        self.assertEqual(phases(view).get("health"), "succeeded", phases(view))
        listed = [r["id"] for r in self.rr.runs_list()]
        self.assertIn(started["id"], listed)
        self.rr.runs_stop(started["id"])

    def test_the_audit_log_takes_its_length_as_a_query(self):
        entries = self.rr.audit(n=3)
        self.assertLessEqual(len(entries), 3)


if __name__ == "__main__":
    unittest.main()
