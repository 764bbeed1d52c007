"""The P4Runtime v1 gRPC service (p4runtime protos + grpcio) on top of a Device.

Maps SoftswitchError to gRPC status the way PI/BMv2 do, with per-update p4.v1.Error details for Write.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent import futures

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2
from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc

from .arbitration import Arbitration, Stream
from .device import Device
from .errors import SoftswitchError

log = logging.getLogger("softswitch.p4runtime")

P4RUNTIME_API_VERSION = "1.4.1"  # the version of the protos shipped by the `p4runtime` package in use


class _RichStatus(grpc.Status):
    """A grpc.Status with google.rpc.Status details (what grpcio-status's to_status builds)."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing: tuple) -> None:
        self.code = code
        self.details = details
        self.trailing_metadata = trailing


def _grpc_code(code: int) -> grpc.StatusCode:
    for sc in grpc.StatusCode:
        if sc.value[0] == code:
            return sc
    return grpc.StatusCode.UNKNOWN


def _abort(context: grpc.ServicerContext, exc: SoftswitchError) -> None:
    context.abort(_grpc_code(exc.code), exc.message)


MAX_STREAMS = 1024     # open StreamChannels; each holds a worker thread of the sync gRPC server
SPARE_WORKERS = 32     # workers left for unary RPCs (Write, Read, ...) however many streams are open


class P4RuntimeService(p4runtime_pb2_grpc.P4RuntimeServicer):
    def __init__(self, device: Device, inject: Callable[[bytes], None], max_streams: int = MAX_STREAMS) -> None:
        self.device = device
        self.arb = Arbitration(device.device_id)
        self.inject = inject  # frame loop hook: inject a frame as if received on the CPU port
        self.max_streams = max_streams
        device.digests.send = self.send_digest
        device.idle_send = self.send_idle
        self._streams_lock = threading.Lock()
        self.open_streams = 0

    # ------------------------------------------------------------- unary RPCs
    def Capabilities(self, request, context):  # gRPC's method names
        return p4runtime_pb2.CapabilitiesResponse(p4runtime_api_version=P4RUNTIME_API_VERSION)

    def SetForwardingPipelineConfig(self, request, context):
        try:
            self.arb.check_primary(request.device_id, request.election_id, request.role)
            self.device.set_pipeline(request)
        except SoftswitchError as exc:
            log.warning("SetForwardingPipelineConfig refused: %s", exc)
            _abort(context, exc)
        return p4runtime_pb2.SetForwardingPipelineConfigResponse()

    def GetForwardingPipelineConfig(self, request, context):
        try:
            return self.device.get_pipeline(request)
        except SoftswitchError as exc:
            _abort(context, exc)

    def Write(self, request, context):
        try:
            self.arb.check_primary(request.device_id, request.election_id, request.role)
            results = self.device.write(request)
        except SoftswitchError as exc:
            _abort(context, exc)
            return None
        if all(r is None for r in results):
            return p4runtime_pb2.WriteResponse()
        # P4Runtime spec: UNKNOWN, with one p4.v1.Error per update (OK for those that succeeded).
        status = status_pb2.Status(code=code_pb2.UNKNOWN, message="Write failure.")
        for r in results:
            err = p4runtime_pb2.Error(canonical_code=code_pb2.OK if r is None else r.code,
                                      message="" if r is None else r.message)
            detail = any_pb2.Any()
            detail.Pack(err)
            status.details.append(detail)
        for r in results:
            if r is not None:
                log.info("Write update refused: %s", r.message)
        context.abort_with_status(_RichStatus(grpc.StatusCode.UNKNOWN, "Write failure.",
                                              (("grpc-status-details-bin", status.SerializeToString()),)))
        return None

    def Read(self, request, context) -> Iterator[p4runtime_pb2.ReadResponse]:
        try:
            entities = list(self.device.read(request))
        except SoftswitchError as exc:
            _abort(context, exc)
            return
        # Batch entities so that huge tables do not make one giant message.
        for i in range(0, max(len(entities), 1), 1000):
            yield p4runtime_pb2.ReadResponse(entities=entities[i:i + 1000])

    # ------------------------------------------------------------- streaming
    def StreamChannel(self, request_iterator, context):
        with self._streams_lock:
            if self.open_streams >= self.max_streams:
                full = True
            else:
                full = False
                self.open_streams += 1
        if full:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"too many open StreamChannels (at most {self.max_streams})")
        try:
            yield from self._stream(request_iterator, context)
        finally:
            with self._streams_lock:
                self.open_streams -= 1

    def _stream(self, request_iterator, context):
        stream = Stream()
        done = threading.Event()
        # Wake the sender when the client goes away (no polling per idle stream).
        context.add_callback(lambda: stream.out.put(None))

        def reader() -> None:
            try:
                for msg in request_iterator:
                    kind = msg.WhichOneof("update")
                    if kind == "arbitration":
                        try:
                            self.arb.update(stream, msg.arbitration)
                        except SoftswitchError as exc:
                            stream.out.put(exc)
                            return
                    elif kind == "packet":
                        self._packet_out(stream, msg.packet)
                    elif kind == "digest_ack":
                        if self.arb.is_primary(stream):
                            self.device.digests.ack(msg.digest_ack.digest_id, msg.digest_ack.list_id)
                    else:
                        log.debug("ignoring stream message of kind %s", kind)
            except grpc.RpcError:
                pass
            except Exception:  # never let a client's stream kill the server
                log.exception("stream reader failed")
            finally:
                done.set()
                stream.out.put(None)

        threading.Thread(target=reader, daemon=True, name="p4rt-stream").start()
        try:
            while True:
                try:
                    item = stream.out.get(timeout=30)
                except queue.Empty:
                    if not context.is_active():
                        break
                    continue
                if item is None:
                    break
                if isinstance(item, SoftswitchError):
                    _abort(context, item)
                yield item
        finally:
            self.arb.remove(stream)

    def _packet_out(self, stream: Stream, po: p4runtime_pb2.PacketOut) -> None:
        if not self.arb.is_primary(stream):
            log.info("PacketOut from a non-primary client dropped")
            return
        try:
            frame = self.device.packet_out_frame(po)
        except SoftswitchError as exc:
            log.warning("PacketOut refused: %s", exc)
            return
        self.inject(frame)

    def send_idle(self, msg: p4runtime_pb2.IdleTimeoutNotification) -> None:
        out = p4runtime_pb2.StreamMessageResponse(idle_timeout_notification=msg)
        for s in self.arb.primaries():
            s.out.put(out)

    def send_digest(self, msg: p4runtime_pb2.DigestList) -> None:
        """A DigestList for the primary controller(s)."""
        out = p4runtime_pb2.StreamMessageResponse(digest=msg)
        for s in self.arb.primaries():
            s.out.put(out)

    def send_packet_in(self, frame: bytes) -> None:
        """Called by the frame loop for frames that egress on the CPU port."""
        msg = p4runtime_pb2.StreamMessageResponse(packet=self.device.packet_in(frame))
        for s in self.arb.primaries():
            s.out.put(msg)


def serve(device: Device, address: str, inject: Callable[[bytes], None],
          max_streams: int = MAX_STREAMS) -> tuple[grpc.Server, P4RuntimeService]:
    """Start the gRPC server; raise SoftswitchError if the address cannot be bound.

    The worker pool holds one thread per open StreamChannel (capped at `max_streams`; more are
    refused with RESOURCE_EXHAUSTED) plus SPARE_WORKERS, so unary RPCs are served however many
    idle streams are open (as BMv2's server is with hundreds of streams).
    """
    workers = max_streams + SPARE_WORKERS
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="p4rt"),
                         options=[("grpc.max_receive_message_length", 256 << 20),
                                  ("grpc.max_send_message_length", 256 << 20),
                                  ("grpc.so_reuseport", 0)])
    service = P4RuntimeService(device, inject, max_streams)
    p4runtime_pb2_grpc.add_P4RuntimeServicer_to_server(service, server)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    asked = address.rpartition(":")[2]
    if port == 0 or (asked.isdigit() and int(asked) != 0 and port != int(asked)):
        # gRPC binds some other port for an out-of-range one: never serve where nobody looks
        server.stop(None)
        raise SoftswitchError(f"cannot listen on gRPC address {address} (in use or invalid)")
    server.start()
    return server, service
