"""A real Hyperledger Fabric network on this machine, no Docker: build, start, deploy, stop.

`install` builds Fabric 2.1.1 from Go source into a cache; `network.up`
starts a Raft orderer and one peer per organisation as local processes and
deploys the project's Python contracts as external chaincode services.
"""
