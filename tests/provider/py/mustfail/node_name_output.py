# Must NOT type-check: a node's name is plain, so an Output is refused.
import pulumi
import pulumi_rocketchat_ha as rcha

rcha.RocketChatHA("rocketchat", root_url="http://localhost:8080",
    nodes=[rcha.NodeArgs(name=pulumi.Output.from_input("rocket-1"), address="172.17.0.1")])
