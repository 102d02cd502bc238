"""Fabric blocks: header hashing, data hash, orderer signature and metadata.

The header hash is SHA-256 over the ASN.1 DER encoding of
SEQUENCE{INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash}
(protoutil.BlockHeaderBytes), so our chain links exactly as Fabric's does and
a block can be checked by Fabric's own tools.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from fabric_protos.common import common_pb2

from tensorledger.ledger.proposal import Signer


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    return b"\x02" + _der_length(len(body)) + body


def _der_octets(data: bytes) -> bytes:
    return b"\x04" + _der_length(len(data)) + data


def header_bytes(header: common_pb2.BlockHeader) -> bytes:
    """protoutil.BlockHeaderBytes: the DER form that is hashed and signed."""
    body = (
        _der_integer(header.number)
        + _der_octets(header.previous_hash)
        + _der_octets(header.data_hash)
    )
    return b"\x30" + _der_length(len(body)) + body


def header_hash(header: common_pb2.BlockHeader) -> bytes:
    """The block hash that the next block's previous_hash must equal."""
    return hashlib.sha256(header_bytes(header)).digest()


def data_hash(envelopes: Sequence[bytes]) -> bytes:
    """SHA-256 of the concatenated envelopes (protoutil.ComputeBlockDataHash)."""
    h = hashlib.sha256()
    for env in envelopes:
        h.update(env)
    return h.digest()


def make_header(
    number: int, previous_hash: bytes, envelopes: Sequence[bytes]
) -> common_pb2.BlockHeader:
    """The header of a new block over `envelopes`."""
    return common_pb2.BlockHeader(
        number=number, previous_hash=previous_hash, data_hash=data_hash(envelopes)
    )


def orderer_signature(
    header: common_pb2.BlockHeader, orderer: Signer, value: bytes = b""
) -> common_pb2.Metadata:
    """metadata[SIGNATURES]: the orderer signs value ‖ signature header ‖ header bytes."""
    shdr = common_pb2.SignatureHeader(
        creator=orderer.serialize(), nonce=os.urandom(24)
    ).SerializeToString()
    signature = orderer.sign(value + shdr + header_bytes(header))
    return common_pb2.Metadata(
        value=value,
        signatures=[common_pb2.MetadataSignature(signature_header=shdr, signature=signature)],
    )


def signed_bytes(
    metadata: common_pb2.Metadata, header: common_pb2.BlockHeader, i: int = 0
) -> bytes:
    """The bytes an orderer signature in metadata[SIGNATURES] covers."""
    signed: bytes = metadata.value + metadata.signatures[i].signature_header
    return signed + header_bytes(header)


def commit_hash(previous: bytes, valid_rwsets: Sequence[tuple[str, bytes]]) -> bytes:
    """Chained hash of the state updates a block applied: (tx id, rwset) of each valid tx.

    Fabric peers keep a similar COMMIT_HASH so that peers can compare the state
    they computed; `verify` uses it to name the first block whose replay differs.
    """
    h = hashlib.sha256(previous)
    for tx_id, rwset in valid_rwsets:
        h.update(tx_id.encode())
        h.update(len(rwset).to_bytes(8, "big"))
        h.update(rwset)
    return h.digest()


def log_entry(block: int, index: int, envelope: bytes) -> bytes:
    """The Merkle log's leaf for a transaction: its position in the chain, then its envelope.

    Binding the block number and position into the leaf means an inclusion
    proof also proves where the transaction sits, not only that it exists.
    """
    return block.to_bytes(8, "big") + index.to_bytes(4, "big") + envelope


def build_metadata(
    signatures: common_pb2.Metadata, codes: Sequence[int], commit: bytes
) -> common_pb2.BlockMetadata:
    """Block metadata in Fabric's index order.

    SIGNATURES, LAST_CONFIG, TRANSACTIONS_FILTER, ORDERER, COMMIT_HASH.
    """
    md = common_pb2.BlockMetadata()
    md.metadata.append(signatures.SerializeToString())
    md.metadata.append(b"")
    md.metadata.append(bytes(codes))
    md.metadata.append(b"")
    md.metadata.append(common_pb2.Metadata(value=commit).SerializeToString())
    return md


def assemble_block(
    header: common_pb2.BlockHeader, envelopes: Sequence[bytes], metadata: common_pb2.BlockMetadata
) -> common_pb2.Block:
    """A complete `common.Block` as Fabric's deliver service would return it."""
    return common_pb2.Block(
        header=header, data=common_pb2.BlockData(data=list(envelopes)), metadata=metadata
    )
