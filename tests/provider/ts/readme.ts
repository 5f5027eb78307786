// The TypeScript example of docs/providers.md and README.md, verbatim
// (TestDocsTypeScriptExample keeps them equal).
import * as pulumi from "@pulumi/pulumi";
import * as rcha from "@rocketchat-ha/rocketchat-ha";

const config = new pulumi.Config();
const chat = new rcha.RocketChatHA("rocketchat", {
    rootUrl: "https://chat.domain.de",
    nodes: [
        { name: "rocket-1", address: "10.250.250.13" },
        { name: "rocket-2", address: "10.250.250.14" },
        { name: "rocket-3", address: "10.250.250.17" },
    ],
    rocketPassword: config.requireSecret("rocketPassword"),
    oplogPassword: config.requireSecret("oplogPassword"),
});
export const url = chat.url;
export const mongoUrl = chat.mongoUrl; // secret
