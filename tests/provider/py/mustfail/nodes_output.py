# Must NOT type-check: the node list is plain (it decides how many
# resources exist), so an Output of nodes is refused.
import pulumi
import pulumi_rocketchat_ha as rcha

rcha.RocketChatHA("rocketchat", root_url="http://localhost:8080",
    nodes=pulumi.Output.from_input([rcha.NodeArgs(name="rocket-1", address="172.17.0.1")]))
