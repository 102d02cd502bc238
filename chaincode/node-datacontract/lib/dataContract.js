/*
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const {Contract} = require('fabric-contract-api');

/**
 * How many arguments each transaction takes. Plain JavaScript carries no
 * parameter metadata, so fabric-contract-api would hand a function any number
 * of arguments; the Python DataContract refuses both too few and too many.
 * @type {Object<string, number>}
 */
const ARITY = Object.freeze({
    storeData: 2,
    retrieveData: 1,
    deleteData: 1,
    history: 1,
    listData: 2,
});

/**
 * A string as Python's `json.dumps` writes it (ensure_ascii): JSON.stringify
 * already escapes `"`, `\` and control characters exactly as Python does
 * (short forms, else lowercase \u00xx); Python also escapes every UTF-16
 * code unit from 0x7F (DEL) up as lowercase \uXXXX (astral characters as their
 * surrogate pair), which JSON.stringify leaves raw.
 * @param {string} text the string to quote
 * @returns {string} the quoted, escaped string
 */
function pyQuote(text) {
    return JSON.stringify(text).replace(/[\u007f-\uffff]/g,
        (ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0'));
}

/**
 * A value as Python's `json.dumps` with default options writes it: ", "
 * between items and ": " after keys, so payloads match the Python
 * chaincode's byte for byte. Only the shapes this contract returns occur:
 * arrays, plain objects (keys in insertion order), strings, booleans, null.
 * @param {*} value the value to serialize
 * @returns {string} its JSON text
 */
function pyDumps(value) {
    if (value === null) {
        return 'null';
    }
    if (typeof value === 'boolean') {
        return value ? 'true' : 'false';
    }
    if (typeof value === 'string') {
        return pyQuote(value);
    }
    if (Array.isArray(value)) {
        return '[' + value.map(pyDumps).join(', ') + ']';
    }
    if (typeof value === 'object') {
        return '{' + Object.keys(value).map((k) => pyQuote(k) + ': ' + pyDumps(value[k])).join(', ') + '}';
    }
    throw new Error(`cannot serialize a ${typeof value}`);
}

/**
 * A protobuf Timestamp ({seconds, nanos}) as protobuf's JSON mapping writes
 * it (Python's `Timestamp.ToJsonString`): RFC 3339 in UTC, with 0, 3, 6 or 9
 * fractional digits, as few as represent the nanoseconds exactly.
 * @param {{seconds: number, nanos: number}} timestamp the time of a change
 * @returns {string} e.g. "2024-05-01T12:00:00.123Z"
 */
function timestampJson(timestamp) {
    const seconds = Number(timestamp.seconds);
    const nanos = Number(timestamp.nanos || 0);
    const base = new Date(seconds * 1000).toISOString().slice(0, 19);
    let fraction = '';
    if (nanos !== 0) {
        const digits = String(nanos).padStart(9, '0');
        if (nanos % 1000000 === 0) {
            fraction = '.' + digits.slice(0, 3);
        } else if (nanos % 1000 === 0) {
            fraction = '.' + digits.slice(0, 6);
        } else {
            fraction = '.' + digits;
        }
    }
    return `${base}${fraction}Z`;
}

/**
 * The function part of a call name, split as fabric-contract-api splits it
 * ("DataContract:storeData" or plain "storeData").
 * @param {string} fcn the first argument of the call
 * @returns {string} the function name
 */
function functionName(fcn) {
    const colon = fcn.indexOf(':');
    return colon === -1 ? fcn : fcn.slice(colon + 1);
}

/**
 * The seed's DataContract, corrected: key/value records on the ledger with
 * the same transaction names, arguments, payloads, events and error texts as
 * tensorledger's Python DataContract (src/tensorledger/contracts/data.py), so
 * that a client cannot tell the two chaincodes apart by their answers.
 */
class DataContract extends Contract {

    constructor() {
        super('DataContract');
    }

    /**
     * Refuses a call with the wrong number of arguments before it touches
     * state, with the Python contract API's message.
     * @param {Context} ctx the transaction context
     * @returns {Promise<void>} resolves when the call may proceed
     */
    async beforeTransaction(ctx) {
        const {fcn, params} = ctx.stub.getFunctionAndParameters();
        const expected = ARITY[functionName(fcn)];
        if (expected !== undefined && params.length !== expected) {
            throw new Error(`incorrect number of params. Expected ${expected}, received ${params.length}`);
        }
    }

    /**
     * An unknown function fails with the Python contract API's message
     * (fabric-contract-api's own text differs).
     * @param {Context} ctx the transaction context
     * @returns {Promise<void>} never resolves: always throws
     */
    async unknownTransaction(ctx) {
        const fn = functionName(ctx.stub.getFunctionAndParameters().fcn);
        if (!fn) {
            throw new Error('Blank function name passed');
        }
        throw new Error(`Function ${fn} not found in contract DataContract`);
    }

    /**
     * Put `data` under `dataID`, creating or replacing it; emits DataStored.
     * @param {Context} ctx the transaction context
     * @param {string} dataID the record's key
     * @param {string} data the value to store
     * @returns {Promise<string>} "Data with ID <dataID> stored successfully."
     */
    async storeData(ctx, dataID, data) {
        await ctx.stub.putState(dataID, Buffer.from(data, 'utf8'));
        ctx.stub.setEvent('DataStored', Buffer.from(dataID, 'utf8'));
        return `Data with ID ${dataID} stored successfully.`;
    }

    /**
     * The value stored under `dataID`.
     * @param {Context} ctx the transaction context
     * @param {string} dataID the record's key
     * @returns {Promise<string>} the stored value
     * @throws {Error} "Data with ID <dataID> does not exist." when there is none
     */
    async retrieveData(ctx, dataID) {
        const data = await ctx.stub.getState(dataID);
        if (!data || data.length === 0) {
            throw new Error(`Data with ID ${dataID} does not exist.`);
        }
        return data.toString('utf8');
    }

    /**
     * Remove `dataID` from world state (its history stays on the chain);
     * emits DataDeleted.
     * @param {Context} ctx the transaction context
     * @param {string} dataID the record's key
     * @returns {Promise<string>} "Data with ID <dataID> deleted successfully."
     * @throws {Error} "Data with ID <dataID> does not exist." when there is none
     */
    async deleteData(ctx, dataID) {
        const data = await ctx.stub.getState(dataID);
        if (!data || data.length === 0) {
            throw new Error(`Data with ID ${dataID} does not exist.`);
        }
        await ctx.stub.deleteState(dataID);
        ctx.stub.setEvent('DataDeleted', Buffer.from(dataID, 'utf8'));
        return `Data with ID ${dataID} deleted successfully.`;
    }

    /**
     * Every committed change of `dataID`, in the peer's order (newest first
     * on Fabric 2.x), as JSON [{txId, value, isDelete, timestamp}].
     * @param {Context} ctx the transaction context
     * @param {string} dataID the record's key
     * @returns {Promise<string>} the changes as JSON text
     */
    async history(ctx, dataID) {
        const changes = [];
        for await (const mod of ctx.stub.getHistoryForKey(dataID)) {
            changes.push({
                txId: mod.txId,
                value: mod.isDelete ? null : Buffer.from(mod.value).toString('utf8'),
                isDelete: Boolean(mod.isDelete),
                timestamp: timestampJson(mod.timestamp),
            });
        }
        return pyDumps(changes);
    }

    /**
     * Records with ids in [startID, endID) as JSON [{id, data}]; an empty
     * end has no bound.
     * @param {Context} ctx the transaction context
     * @param {string} startID the first id included
     * @param {string} endID the first id excluded, or '' for no bound
     * @returns {Promise<string>} the records as JSON text
     */
    async listData(ctx, startID, endID) {
        const records = [];
        for await (const kv of ctx.stub.getStateByRange(startID, endID)) {
            records.push({id: kv.key, data: Buffer.from(kv.value).toString('utf8')});
        }
        return pyDumps(records);
    }
}

// fabric-contract-api infers a plain-JavaScript transaction's parameters from
// Function.length and refuses a wrong count with its own message, before
// beforeTransaction runs. Declaring only `ctx` leaves the count to
// beforeTransaction, which refuses with the Python contract API's text.
for (const name of Object.keys(ARITY)) {
    Object.defineProperty(DataContract.prototype[name], 'length', {value: 1});
}

module.exports = DataContract;
module.exports.pyDumps = pyDumps;
module.exports.timestampJson = timestampJson;
