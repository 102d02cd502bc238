//go:build tools

// Package tools pins the Fabric commands tensorledger builds, so `go mod`
// keeps every module they need in go.sum.
package tools

import (
	_ "github.com/hyperledger/fabric/cmd/configtxgen"
	_ "github.com/hyperledger/fabric/cmd/orderer"
	_ "github.com/hyperledger/fabric/cmd/peer"
)
