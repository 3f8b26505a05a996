"""Drives Seatkeeper's Graph-compatible API (/v1.0) with the official Microsoft Graph SDK for
Python (msgraph-sdk), unchanged, the way a licensing script would.

Needs a running server (tests/graph_sdk/run.sh starts one with the demo organization):
  SEATKEEPER_URL          http://127.0.0.1:PORT
  SEATKEEPER_TOKEN        bearer token of a Global admin of the demo organization
  SEATKEEPER_NOLOC_TOKEN  bearer token of a Global admin of an organization without a default
                          usage location
"""

import asyncio
import os
import uuid

import httpx
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.group import Group
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.user import User
from msgraph.generated.groups.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody as GroupAssignLicenseBody,
)
from msgraph.generated.groups.item.group_item_request_builder import GroupItemRequestBuilder
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

URL = os.environ["SEATKEEPER_URL"].rstrip("/")
TOKEN = os.environ["SEATKEEPER_TOKEN"]
NOLOC_TOKEN = os.environ["SEATKEEPER_NOLOC_TOKEN"]
HOST = httpx.URL(URL).host

USAGE_LOCATION_ERROR = "License assignment cannot be done for user with invalid usage location."


class StaticToken(AccessTokenProvider):
    """A fixed bearer token, sent to the test server's host only."""

    def __init__(self, token):
        self.token = token
        self.validator = AllowedHostsValidator([HOST])

    async def get_authorization_token(self, uri, additional_authentication_context={}):
        return self.token if self.validator.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self):
        return self.validator


def graph(token=TOKEN, trailing_slash=False):
    """A Graph client pointed at the test server. With a trailing slash on the base URL (like
    the SDK's own default) the SDK sends paths such as /v1.0//users."""
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(token)))
    adapter.base_url = URL + "/v1.0" + ("/" if trailing_slash else "")
    return GraphServiceClient(request_adapter=adapter)


def run(coro):
    return asyncio.run(coro)


def unique_upn(prefix, domain):
    return f"{prefix}.{uuid.uuid4().hex[:10]}@{domain}"


async def skus_by_part(client):
    skus = await client.subscribed_skus.get()
    return {s.sku_part_number: s for s in skus.value}


def plan_id(sku, name):
    for p in sku.service_plans:
        if p.service_plan_name == name:
            return p.service_plan_id
    raise AssertionError(f"{sku.sku_part_number} has no service plan {name}")


async def all_users(client, query):
    """Every user matching `query`, following @odata.nextLink to the end."""
    config = RequestConfiguration(query_parameters=query)
    config.headers.add("ConsistencyLevel", "eventual")
    page = await client.users.get(request_configuration=config)
    count = page.odata_count
    users = list(page.value)
    pages = 1
    while page.odata_next_link:
        page = await client.users.with_url(page.odata_next_link).get()
        users.extend(page.value)
        pages += 1
        assert pages < 1000, "paging does not end"
    return users, count, pages


def test_subscribed_skus():
    async def go():
        skus = await skus_by_part(graph())
        assert {"SUITE_STANDARD", "SUITE_PREMIUM", "MAIL_PLAN1"} <= set(skus)
        standard = skus["SUITE_STANDARD"]
        assert isinstance(standard.sku_id, uuid.UUID)
        assert standard.applies_to == "User"
        assert standard.capability_status == "Enabled"
        assert standard.prepaid_units.enabled >= standard.consumed_units
        assert standard.prepaid_units.suspended == 0
        assert {p.service_plan_name for p in standard.service_plans} >= {"CHAT", "OFFICE_DESKTOP"}
        assert all(p.provisioning_status == "Success" for p in standard.service_plans)
        assert standard.subscription_ids
        one = await graph().subscribed_skus.by_subscribed_sku_id(standard.id).get()
        assert one.sku_part_number == "SUITE_STANDARD"
        subs = await graph().directory.subscriptions.get()
        assert subs.value
        assert all(s.status in {"Enabled", "Warning", "Suspended", "LockedOut", "Deleted"} for s in subs.value)
        assert any(s.sku_part_number == "SUITE_STANDARD" and s.total_licenses > 0 for s in subs.value)

    run(go())


def test_create_assign_license_details_filter_delete():
    async def go():
        client = graph()
        skus = await skus_by_part(client)
        standard = skus["SUITE_STANDARD"]
        desktop = plan_id(standard, "OFFICE_DESKTOP")
        before = standard.consumed_units

        upn = unique_upn("sdk.user", "contoso.example")
        body = User(
            account_enabled=True,
            display_name="SDK User",
            mail_nickname=upn.split("@")[0].replace(".", ""),
            user_principal_name=upn,
            usage_location="DK",
            password_profile=PasswordProfile(
                force_change_password_next_sign_in=True, password="xWwvJ]6NMw+bWH-d"
            ),
        )
        created = await client.users.post(body)
        assert created.id
        assert created.user_principal_name == upn
        assert created.usage_location == "DK"
        assert created.user_type == "Member"

        request = AssignLicensePostRequestBody(
            add_licenses=[AssignedLicense(sku_id=standard.sku_id, disabled_plans=[desktop])],
            remove_licenses=[],
        )
        user = await client.users.by_user_id(created.id).assign_license.post(request)
        assert [(a.sku_id, a.disabled_plans) for a in user.assigned_licenses] == [
            (standard.sku_id, [desktop])
        ]
        states = {p.service_plan_id: p.capability_status for p in user.assigned_plans}
        assert states[desktop] == "Deleted"
        assert states[plan_id(standard, "CHAT")] == "Enabled"

        # The SDK may re-send a POST; assigning again changes nothing.
        again = await client.users.by_user_id(created.id).assign_license.post(request)
        assert [a.sku_id for a in again.assigned_licenses] == [standard.sku_id]
        after = (await skus_by_part(client))["SUITE_STANDARD"]
        assert after.consumed_units == before + 1

        details = await client.users.by_user_id(created.id).license_details.get()
        assert len(details.value) == 1
        d = details.value[0]
        assert d.sku_id == standard.sku_id
        assert d.sku_part_number == "SUITE_STANDARD"
        status = {p.service_plan_name: p.provisioning_status for p in d.service_plans}
        assert status["OFFICE_DESKTOP"] == "Disabled"
        assert status["CHAT"] == "Success"

        # Filter users by product; the new user is among them.
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"assignedLicenses/any(x:x/skuId eq {standard.sku_id})",
            select=["id", "userPrincipalName", "assignedLicenses"],
            count=True,
            top=5,
        )
        users, count, pages = await all_users(client, query)
        assert upn in {u.user_principal_name for u in users}
        assert count == len(users) == after.consumed_units
        assert len({u.id for u in users}) == len(users)
        assert pages == -(-count // 5)
        assert all(
            any(a.sku_id == standard.sku_id for a in u.assigned_licenses) for u in users
        )
        assert all(u.display_name is None for u in users), "$select was not applied"

        # Read, change and delete through the SDK; deleting frees the license.
        by_upn = await client.users.by_user_id(upn).get()
        assert by_upn.id == created.id
        await client.users.by_user_id(created.id).patch(User(job_title="Tester"))
        changed = await client.users.by_user_id(created.id).get()
        assert changed.job_title == "Tester"
        await client.users.by_user_id(created.id).delete()
        with pytest.raises(ODataError) as err:
            await client.users.by_user_id(created.id).get()
        assert err.value.response_status_code == 404
        assert err.value.error.code == "Request_ResourceNotFound"
        assert (await skus_by_part(client))["SUITE_STANDARD"].consumed_units == before

    run(go())


def test_trailing_slash_base_url_and_count():
    async def go():
        client = graph(trailing_slash=True)
        page = await client.users.get()
        assert page.value
        config = RequestConfiguration()
        config.headers.add("ConsistencyLevel", "eventual")
        n = await client.users.count.get(request_configuration=config)
        assert n >= len(page.value)

    run(go())


def test_groups_and_members():
    async def go():
        client = graph()
        upn = unique_upn("sdk.member", "contoso.example")
        user = await client.users.post(
            User(account_enabled=True, display_name="SDK Member", mail_nickname="sdkmember",
                 user_principal_name=upn, usage_location="US")
        )
        group = await client.groups.post(
            Group(display_name="SDK Group", mail_enabled=False, mail_nickname="sdkgroup",
                  security_enabled=True, group_types=[])
        )
        assert group.id
        ref = ReferenceCreate(
            odata_id=f"https://graph.microsoft.com/v1.0/directoryObjects/{user.id}"
        )
        await client.groups.by_group_id(group.id).members.ref.post(ref)
        members = await client.groups.by_group_id(group.id).members.get()
        assert [m.id for m in members.value] == [user.id]
        assert isinstance(members.value[0], User)
        assert members.value[0].user_principal_name == upn
        await client.groups.by_group_id(group.id).members.by_directory_object_id(user.id).ref.delete()
        members = await client.groups.by_group_id(group.id).members.get()
        assert members.value == []
        await client.groups.by_group_id(group.id).delete()
        await client.users.by_user_id(user.id).delete()

    run(go())


def test_group_based_licensing():
    """A product assigned to a group: the 202, polling licenseProcessingState until complete,
    a member's licenseAssignmentStates naming the group, members in error, reprocess."""

    async def go():
        client = graph()
        skus = await skus_by_part(client)
        chat = skus["CHAT_ESSENTIALS"]
        users = []
        for i in range(2):
            upn = unique_upn(f"sdk.grp{i}", "contoso.example")
            users.append(
                await client.users.post(
                    User(account_enabled=True, display_name=f"SDK Group Member {i}",
                         mail_nickname=f"sdkgrp{i}", user_principal_name=upn, usage_location="US")
                )
            )
        group = await client.groups.post(
            Group(display_name="SDK Licensed", mail_enabled=False, mail_nickname="sdklicensed",
                  security_enabled=True, group_types=[])
        )
        for u in users:
            await client.groups.by_group_id(group.id).members.ref.post(
                ReferenceCreate(odata_id=f"https://graph.microsoft.com/v1.0/directoryObjects/{u.id}")
            )
        whiteboard = plan_id(chat, "WHITEBOARD")
        answer = await client.groups.by_group_id(group.id).assign_license.post(
            GroupAssignLicenseBody(
                add_licenses=[AssignedLicense(sku_id=chat.sku_id, disabled_plans=[whiteboard])],
                remove_licenses=[],
            )
        )
        assert answer.id == group.id
        config = RequestConfiguration(
            query_parameters=GroupItemRequestBuilder.GroupItemRequestBuilderGetQueryParameters(
                select=["id", "assignedLicenses", "licenseProcessingState", "hasMembersWithLicenseErrors"]
            )
        )
        for _ in range(200):
            g = await client.groups.by_group_id(group.id).get(request_configuration=config)
            if g.license_processing_state.state == "ProcessingComplete":
                break
            await asyncio.sleep(0.05)
        assert g.license_processing_state.state == "ProcessingComplete"
        assert [(a.sku_id, a.disabled_plans) for a in g.assigned_licenses] == [
            (chat.sku_id, [whiteboard])
        ]
        member = await client.users.by_user_id(users[0].id).get()
        assert [a.sku_id for a in member.assigned_licenses] == [chat.sku_id]
        states = [s for s in member.license_assignment_states if s.sku_id == chat.sku_id]
        assert [(s.assigned_by_group, s.state) for s in states] == [(group.id, "Active")]
        # Removing it through the user is refused: it is inherited.
        with pytest.raises(ODataError) as e:
            await client.users.by_user_id(users[0].id).assign_license.post(
                AssignLicensePostRequestBody(add_licenses=[], remove_licenses=[chat.sku_id])
            )
        assert "inherited from a group" in e.value.error.message
        errors = await client.groups.by_group_id(group.id).members_with_license_errors.get()
        assert errors.value == [] or all(m.id not in {u.id for u in users} for m in errors.value)
        again = await client.users.by_user_id(users[1].id).reprocess_license_assignment.post()
        assert [a.sku_id for a in again.assigned_licenses] == [chat.sku_id]
        # Remove the product from the group; then the group can be deleted.
        await client.groups.by_group_id(group.id).assign_license.post(
            GroupAssignLicenseBody(add_licenses=[], remove_licenses=[chat.sku_id])
        )
        for _ in range(200):
            g = await client.groups.by_group_id(group.id).get(request_configuration=config)
            if g.license_processing_state.state == "ProcessingComplete":
                break
            await asyncio.sleep(0.05)
        member = await client.users.by_user_id(users[0].id).get()
        assert member.assigned_licenses == []
        await client.groups.by_group_id(group.id).delete()
        for u in users:
            await client.users.by_user_id(u.id).delete()

    run(go())


def test_unsupported_filter_is_an_odata_error():
    async def go():
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter="endswith(mail,'@contoso.example')"
        )
        with pytest.raises(ODataError) as err:
            await graph().users.get(
                request_configuration=RequestConfiguration(query_parameters=query)
            )
        assert err.value.response_status_code == 400
        assert err.value.error.code == "Request_BadRequest"
        assert err.value.error.message.startswith("Unsupported $filter")
        assert "startswith" in err.value.error.message

    run(go())


def buy_for_noloc_tenant(sku_id):
    """Buys one license for the organization without a default usage location through the REST
    API. Returns False when the REST endpoint is not available."""
    r = httpx.post(
        f"{URL}/api/v1/subscriptions",
        headers={"Authorization": f"Bearer {NOLOC_TOKEN}"},
        json={"skuId": str(sku_id), "quantity": 1, "billingFrequency": "monthly"},
    )
    if r.status_code in (404, 405):
        return False
    assert r.status_code == 201, r.text
    return True


def test_user_without_usage_location_gets_graphs_error():
    async def go():
        client = graph(NOLOC_TOKEN)
        standard = (await skus_by_part(graph()))["SUITE_STANDARD"]
        bought = buy_for_noloc_tenant(standard.sku_id)
        print(f"licenses bought through the REST API: {bought}")
        upn = unique_upn("nowhere", "sdk.test")
        user = await client.users.post(
            User(account_enabled=True, display_name="No Location", mail_nickname="nowhere",
                 user_principal_name=upn)
        )
        assert user.usage_location is None
        request = AssignLicensePostRequestBody(
            add_licenses=[AssignedLicense(sku_id=standard.sku_id, disabled_plans=[])],
            remove_licenses=[],
        )
        with pytest.raises(ODataError) as err:
            await client.users.by_user_id(user.id).assign_license.post(request)
        assert err.value.response_status_code == 400
        assert err.value.error.code == "Request_BadRequest"
        assert err.value.error.message.startswith(USAGE_LOCATION_ERROR), err.value.error.message
        assert upn in err.value.error.message

        # Setting the usage location is the fix.
        await client.users.by_user_id(user.id).patch(User(usage_location="NL"))
        if bought:
            done = await client.users.by_user_id(user.id).assign_license.post(request)
            assert [a.sku_id for a in done.assigned_licenses] == [standard.sku_id]
        else:
            with pytest.raises(ODataError) as err:
                await client.users.by_user_id(user.id).assign_license.post(request)
            assert "does not have any available licenses" in err.value.error.message

    run(go())
