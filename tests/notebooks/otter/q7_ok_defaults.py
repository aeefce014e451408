OK_FORMAT = True

test = {
    "name": "q7",
    "suites": [
        {
            "cases": [
                {"code": ">>> sorted(n for n in countdown(4))\n[1, 2, 3, 4]"},
                {"code": ">>> scores['points'].max()\nnp.int64(7)", "hidden": False,
                 "failure_message": "look at scores again"},
                {"code": ">>> mean_of([2, 4])\n3.0", "success_message": "well done"},
            ],
            "scored": True,
            "setup": "",
            "teardown": "",
            "type": "doctest",
        }
    ],
}
