from tests.support.flows import login


def test_full_login(app, client, op):
    result = login(client, app.url)
    assert result.response.status_code == 200, result.hops
    resp = client.get(app.url + "/profile")
    assert resp.status_code == 200
    assert "301234567890123456" in resp.text
