// Type-checked (tests/provider) against the generated SDK in sdk/nodejs
// and @pulumi/pulumi from npm: the dev stack's three nodes as typed
// NodeArgs with ports, the load balancer, and the component's outputs.
import * as pulumi from "@pulumi/pulumi";
import * as rcha from "@rocketchat-ha/rocketchat-ha";

const config = new pulumi.Config();

const nodes: rcha.types.input.NodeArgs[] = [1, 2, 3].map((i) => ({
    name: `rocket-${i}`,
    address: "172.17.0.1",
    dockerHost: "unix:///var/run/docker.sock",
    ports: { mongo: 27016 + i, rocketchat: 3000 + i, instance: 3100 + i },
}));

const cluster = new rcha.RocketChatHA("rocketchat", {
    rootUrl: "http://localhost:8080",
    nodes,
    oplogPassword: config.requireSecret("oplogPassword"),
    loadBalancer: { node: "rocket-1", bindAddress: "127.0.0.1", address: "localhost", httpPort: 8080 },
});

export const url: pulumi.Output<string> = cluster.url;
export const members: pulumi.Output<string[]> = cluster.members;
export const loadBalancers: pulumi.Output<string[]> = cluster.loadBalancers;
export const mongoUrl: pulumi.Output<string> = cluster.mongoUrl;
