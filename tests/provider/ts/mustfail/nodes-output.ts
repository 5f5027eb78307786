// Must NOT compile: the node list is plain (it decides how many resources
// exist), so an Output of nodes is refused.
import * as pulumi from "@pulumi/pulumi";
import * as rcha from "../../../../sdk/nodejs";

new rcha.RocketChatHA("rocketchat", {
    rootUrl: "http://localhost:8080",
    nodes: pulumi.output([{ name: "rocket-1", address: "172.17.0.1" }]),
});
