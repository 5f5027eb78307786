// Must NOT compile: a node's name is plain, so an Output is refused.
import * as pulumi from "@pulumi/pulumi";
import * as rcha from "../../../../sdk/nodejs";

new rcha.RocketChatHA("rocketchat", {
    rootUrl: "http://localhost:8080",
    nodes: [{ name: pulumi.output("rocket-1"), address: "172.17.0.1" }],
});
