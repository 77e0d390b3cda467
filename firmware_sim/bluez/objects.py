"""The org.bluez D-Bus objects the stand-in exports: adapter, device, GATT services and characteristics.

Only what bleak's BlueZ backend calls is implemented; behaviour (what a
connect or a write does) is delegated to the peripheral through small
callbacks. No ``from __future__ import annotations`` here: dbus-fast reads
the D-Bus signatures from the annotations as written.
"""

import array
import asyncio
import fcntl
import logging
import socket
import termios
from typing import Any, Awaitable, Callable

from dbus_fast import DBusError, PropertyAccess, Variant
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

log = logging.getLogger(__name__)

ERROR_FAILED = "org.bluez.Error.Failed"
ERROR_IN_PROGRESS = "org.bluez.Error.InProgress"
ERROR_NOT_CONNECTED = "org.bluez.Error.NotConnected"
ERROR_NOT_SUPPORTED = "org.bluez.Error.NotSupported"
ERROR_NOT_PERMITTED = "org.bluez.Error.NotPermitted"

ADAPTER_PATH = "/org/bluez/hci0"


class Adapter(ServiceInterface):
    """hci0: powered, LE central, discovering on request."""

    def __init__(self, on_discovery: Callable[[bool], None]) -> None:
        super().__init__("org.bluez.Adapter1")
        self._discovering = False
        self._on_discovery = on_discovery

    @dbus_method()
    def SetDiscoveryFilter(self, properties: "a{sv}") -> None:  # noqa: N802 (D-Bus names)
        pass

    @dbus_method()
    def GetDiscoveryFilters(self) -> "as":  # noqa: N802
        return ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable", "Pattern"]

    @dbus_method()
    def StartDiscovery(self) -> None:  # noqa: N802
        self._set_discovering(True)

    @dbus_method()
    def StopDiscovery(self) -> None:  # noqa: N802
        if not self._discovering:
            raise DBusError("org.bluez.Error.Failed", "No discovery started")
        self._set_discovering(False)

    @dbus_method()
    def RemoveDevice(self, device: "o") -> None:  # noqa: N802
        pass

    def _set_discovering(self, on: bool) -> None:
        self._discovering = on
        self.emit_properties_changed({"Discovering": on})
        self._on_discovery(on)

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":  # noqa: N802
        return "00:1A:7D:DA:71:13"

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> "s":  # noqa: N802
        return "public"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":  # noqa: N802
        return "fascdetect-sim"

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> "s":  # noqa: N802
        return "fascdetect-sim"

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> "b":  # noqa: N802
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> "b":  # noqa: N802
        return self._discovering

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> "as":  # noqa: N802
        return ["central", "peripheral"]

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":  # noqa: N802
        return []


class Device(ServiceInterface):
    """A remote LE peripheral as BlueZ shows it; Connect/Disconnect are delegated."""

    def __init__(
        self,
        address: str,
        name: str,
        service_uuids: list[str],
        connect: Callable[[], Awaitable[None]],
        disconnect: Callable[[], Awaitable[None]],
    ) -> None:
        super().__init__("org.bluez.Device1")
        self.address = address
        self.device_name = name  # not ``name``: ServiceInterface.name is the interface name
        self.service_uuids = service_uuids
        self.connected = False
        self.services_resolved = False
        self.rssi = -60
        self.service_data: dict[str, bytes] = {}
        self._connect = connect
        self._disconnect = disconnect

    def set(self, **changes: Any) -> None:
        """Change properties (connected, services_resolved, rssi, service_data) and tell the bus."""
        for key, value in changes.items():
            setattr(self, key, value)
        current = {
            "connected": ("Connected", self.connected),
            "services_resolved": ("ServicesResolved", self.services_resolved),
            "rssi": ("RSSI", self.rssi),
            "service_data": ("ServiceData", self._service_data_value()),
        }
        self.emit_properties_changed(dict(current[k] for k in changes))

    def _service_data_value(self) -> dict[str, Variant]:
        return {k: Variant("ay", v) for k, v in self.service_data.items()}

    @dbus_method()
    async def Connect(self) -> None:  # noqa: N802
        await self._connect()

    @dbus_method()
    async def Disconnect(self) -> None:  # noqa: N802
        await self._disconnect()

    @dbus_method()
    def Pair(self) -> None:  # noqa: N802
        raise DBusError(ERROR_NOT_SUPPORTED, "the simulated wearable does not pair")

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":  # noqa: N802
        return self.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> "s":  # noqa: N802
        return "random"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":  # noqa: N802
        return self.device_name

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> "s":  # noqa: N802
        return self.device_name

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> "o":  # noqa: N802
        return ADAPTER_PATH

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> "b":  # noqa: N802
        return self.connected

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> "b":  # noqa: N802
        return self.services_resolved

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> "b":  # noqa: N802
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> "b":  # noqa: N802
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Trusted(self) -> "b":  # noqa: N802
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> "b":  # noqa: N802
        return False

    @dbus_property(access=PropertyAccess.READ)
    def LegacyPairing(self) -> "b":  # noqa: N802
        return False

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> "n":  # noqa: N802
        return self.rssi

    @dbus_property(access=PropertyAccess.READ)
    def TxPower(self) -> "n":  # noqa: N802
        return 0

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":  # noqa: N802
        return self.service_uuids

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> "a{sv}":  # noqa: N802
        return self._service_data_value()

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> "a{qv}":  # noqa: N802
        return {}


class GattService(ServiceInterface):
    def __init__(self, uuid: str, device_path: str) -> None:
        super().__init__("org.bluez.GattService1")
        self.uuid = uuid
        self.device_path = device_path

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":  # noqa: N802
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> "o":  # noqa: N802
        return self.device_path

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":  # noqa: N802
        return True


class GattCharacteristic(ServiceInterface):
    """A characteristic: read returns ``value``, writes go to ``on_write``, notifications via ``notify``.

    Notifications reach the client as ``PropertiesChanged(Value)`` after
    StartNotify (bleak's default), or as datagrams on a SOCK_SEQPACKET socket
    after AcquireNotify, as BlueZ does.
    """

    def __init__(
        self,
        uuid: str,
        service_path: str,
        flags: list[str],
        mtu: int,
        value: bytes = b"",
        on_write: Callable[[bytes], None] | None = None,
    ) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.uuid = uuid
        self.service_path = service_path
        self.flags = flags
        self.mtu = mtu
        self.value = value
        self.on_write = on_write
        self.notifying = False
        self.subscriber: str | None = None
        """Unique bus name of the client that called StartNotify (for backpressure pings)."""
        self._socket: socket.socket | None = None

    @property
    def subscribed(self) -> bool:
        return self.notifying or self._socket is not None

    async def notify(self, data: bytes) -> None:
        """Send one notification to the subscribed client."""
        self.value = data
        if self._socket is not None:
            try:
                await asyncio.get_running_loop().sock_sendall(self._socket, data)
            except OSError:
                log.info("AcquireNotify socket closed by the client")
                self.release()
        elif self.notifying:
            self.emit_properties_changed({"Value": data})

    async def drained(self) -> None:
        """Wait until the client has read every datagram sent on the AcquireNotify socket."""
        pending = array.array("i", [0])
        while self._socket is not None:
            try:
                fcntl.ioctl(self._socket.fileno(), termios.TIOCOUTQ, pending)
            except OSError:
                return
            if pending[0] == 0:
                return
            await asyncio.sleep(0.001)

    def release(self) -> None:
        """Forget the subscription (link gone)."""
        self.notifying = False
        self.subscriber = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    @dbus_method()
    def ReadValue(self, options: "a{sv}") -> "ay":  # noqa: N802
        if "read" not in self.flags:
            raise DBusError(ERROR_NOT_PERMITTED, "Read not permitted")
        offset = options["offset"].value if "offset" in options else 0
        return self.value[offset:]

    @dbus_method()
    def WriteValue(self, value: "ay", options: "a{sv}") -> None:  # noqa: N802
        if self.on_write is None:
            raise DBusError(ERROR_NOT_PERMITTED, "Write not permitted")
        self.on_write(bytes(value))

    @dbus_method()
    def StartNotify(self) -> None:  # noqa: N802
        if "notify" not in self.flags:
            raise DBusError(ERROR_NOT_SUPPORTED, "Operation is not supported")
        if self._socket is not None:
            raise DBusError(ERROR_NOT_PERMITTED, "Notify acquired")
        self.notifying = True
        self.emit_properties_changed({"Notifying": True})

    @dbus_method()
    def StopNotify(self) -> None:  # noqa: N802
        self.notifying = False
        self.emit_properties_changed({"Notifying": False})

    @dbus_method()
    def AcquireNotify(self, options: "a{sv}") -> "hq":  # noqa: N802
        if "notify" not in self.flags:
            raise DBusError(ERROR_NOT_SUPPORTED, "Operation is not supported")
        if self.notifying or self._socket is not None:
            raise DBusError(ERROR_IN_PROGRESS, "Notify already acquired")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        self._socket = ours
        # the reply carries a duplicate of this descriptor; close ours once it is on its way
        asyncio.get_running_loop().call_later(5.0, theirs.close)
        return [theirs.fileno(), self.mtu]

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":  # noqa: N802
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":  # noqa: N802
        return self.service_path

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":  # noqa: N802
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> "b":  # noqa: N802
        return self.notifying

    @dbus_property(access=PropertyAccess.READ)
    def NotifyAcquired(self) -> "b":  # noqa: N802
        return self._socket is not None

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":  # noqa: N802
        return self.flags

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> "q":  # noqa: N802
        return self.mtu
