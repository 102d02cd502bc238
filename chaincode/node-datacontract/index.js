/*
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

/**
 * The chaincode's contracts, as `fabric-chaincode-node server` loads them
 * from this package's main module.
 */
const DataContract = require('./lib/dataContract');

module.exports.DataContract = DataContract;
module.exports.contracts = [DataContract];
