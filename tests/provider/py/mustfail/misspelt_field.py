# Must NOT type-check: NodeArgs has no field "adress".
import pulumi_rocketchat_ha as rcha

rcha.RocketChatHA("rocketchat", root_url="http://localhost:8080",
    nodes=[rcha.NodeArgs(name="rocket-1", adress="172.17.0.1")])
