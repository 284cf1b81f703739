#!/usr/bin/env python3
"""A BlueZ stand-in for the end-to-end tests: a private system bus with
python-dbusmock's bluez5 template, extended with GATT objects.

Started by tests/e2e/ble.rs. Prints `ready <bus address>` once the bus and the
mock are up, then reads one command per line from stdin and answers each with
one line, `ok [value]` or `err <reason>`. Stops both children when stdin closes.

Commands:
  strap <MAC> <name>            a heart-rate strap that advertises 0x180D
                                (name percent-encoded: Polar%20H10)
  advertise <MAC> <rssi>        an advert (an RSSI update) from the device
  notify <MAC> <hex>            a Heart Rate Measurement notification
  state <MAC>                   `ok connected=<0|1> notifying=<0|1>`
  vanish <MAC>                  the device drops its link and leaves
  unplug                        the adapter hci0 and all its devices go away
  plug                          hci0 is back (with no devices)
  quit
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

import dbus

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"""

MOCK = "org.freedesktop.DBus.Mock"
DEVICE = "org.bluez.Device1"
SERVICE = "org.bluez.GattService1"
CHAR = "org.bluez.GattCharacteristic1"
HR_SERVICE = "0000180d-0000-1000-8000-00805f9b34fb"
HR_MEASUREMENT = "00002a37-0000-1000-8000-00805f9b34fb"

# Connect and Disconnect that keep the properties true, unlike the template's.
CONNECT = (
    "self.UpdateProperties('org.bluez.Device1', "
    "{'Connected': dbus.Boolean(True), 'ServicesResolved': dbus.Boolean(True)})"
)
DISCONNECT = (
    "self.UpdateProperties('org.bluez.Device1', "
    "{'Connected': dbus.Boolean(False), 'ServicesResolved': dbus.Boolean(False)})"
)
START_NOTIFY = "self.UpdateProperties('org.bluez.GattCharacteristic1', {'Notifying': dbus.Boolean(True)})"
STOP_NOTIFY = "self.UpdateProperties('org.bluez.GattCharacteristic1', {'Notifying': dbus.Boolean(False)})"


def device_path(mac):
    return "/org/bluez/hci0/dev_" + mac.upper().replace(":", "_")


class StandIn:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cohealth-bluez-")
        socket = os.path.join(self.dir, "system_bus_socket")
        config = os.path.join(self.dir, "bus.conf")
        with open(config, "w", encoding="utf-8") as f:
            f.write(BUS_CONFIG.format(socket=socket))
        self.address = "unix:path=" + socket
        self.bus_daemon = subprocess.Popen(
            ["dbus-daemon", "--config-file=" + config, "--nofork", "--nopidfile"],
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: os.path.exists(socket), "the private bus socket")
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.mock = subprocess.Popen(
            [sys.executable, "-m", "dbusmock", "--system", "--template", "bluez5"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        self.bus = dbus.bus.BusConnection(self.address)
        wait_for(lambda: self.bus.name_has_owner("org.bluez"), "dbusmock on org.bluez")
        self.bluez = dbus.Interface(self.bus.get_object("org.bluez", "/"), "org.bluez.Mock")
        self.bluez.AddAdapter("hci0", "cohealth-test")
        self.devices = {}

    def obj(self, path, iface=MOCK):
        return dbus.Interface(self.bus.get_object("org.bluez", path), iface)

    def strap(self, mac, name):
        name = urllib.parse.unquote(name)
        path = self.bluez.AddDevice("hci0", mac.upper(), name)
        dev = self.obj(path)
        dev.AddMethod(DEVICE, "Connect", "", "", CONNECT)
        dev.AddMethod(DEVICE, "Disconnect", "", "", DISCONNECT)
        service = path + "/service000c"
        char = service + "/char000d"
        # bluez-async refuses introspection of an interface without methods.
        dev.AddObject(
            service,
            SERVICE,
            {
                "UUID": HR_SERVICE,
                "Primary": True,
                "Device": dbus.ObjectPath(path),
                "Includes": dbus.Array([], signature="o"),
                "Handle": dbus.UInt16(0x000C),
            },
            [("Noop", "", "", "")],
        )
        dev.AddObject(
            char,
            CHAR,
            {
                "UUID": HR_MEASUREMENT,
                "Service": dbus.ObjectPath(service),
                "Value": dbus.Array([], signature="y"),
                "Notifying": False,
                "Flags": dbus.Array(["notify"], signature="s"),
                "Handle": dbus.UInt16(0x000D),
            },
            [
                ("ReadValue", "a{sv}", "ay", "ret = self.props['org.bluez.GattCharacteristic1']['Value']"),
                ("WriteValue", "aya{sv}", "", ""),
                ("StartNotify", "", "", START_NOTIFY),
                ("StopNotify", "", "", STOP_NOTIFY),
            ],
        )
        dev.UpdateProperties(
            DEVICE,
            {"UUIDs": dbus.Array([HR_SERVICE], signature="s"), "RSSI": dbus.Int16(-61)},
        )
        self.devices[mac.upper()] = (name, path, char)
        return path

    def advertise(self, mac, rssi):
        _, path, _ = self.devices[mac.upper()]
        self.obj(path).UpdateProperties(DEVICE, {"RSSI": dbus.Int16(int(rssi))})

    def notify(self, mac, hex_value):
        _, _, char = self.devices[mac.upper()]
        value = dbus.Array([dbus.Byte(b) for b in bytes.fromhex(hex_value)], signature="y")
        self.obj(char).UpdateProperties(CHAR, {"Value": value})

    def state(self, mac):
        _, path, char = self.devices[mac.upper()]
        props = dbus.Interface(self.bus.get_object("org.bluez", path), dbus.PROPERTIES_IFACE)
        connected = bool(props.Get(DEVICE, "Connected"))
        chars = dbus.Interface(self.bus.get_object("org.bluez", char), dbus.PROPERTIES_IFACE)
        notifying = bool(chars.Get(CHAR, "Notifying"))
        return f"connected={int(connected)} notifying={int(notifying)}"

    def vanish(self, mac):
        name, path, char = self.devices.pop(mac.upper())
        self.obj(path).UpdateProperties(DEVICE, {"Connected": False, "ServicesResolved": False})
        root = self.obj("/org/bluez")
        root.RemoveObject(char)
        root.RemoveObject(char.rsplit("/", 1)[0])
        adapter = dbus.Interface(self.bus.get_object("org.bluez", "/org/bluez/hci0"), "org.bluez.Adapter1")
        adapter.RemoveDevice(dbus.ObjectPath(path))
        return name

    def unplug(self):
        self.bluez.RemoveAdapterWithDevices("hci0")
        self.devices.clear()

    def plug(self):
        self.bluez.AddAdapter("hci0", "cohealth-test")

    def close(self):
        for child in (self.mock, self.bus_daemon):
            child.terminate()
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(check, what, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except dbus.exceptions.DBusException:
            pass
        time.sleep(0.05)
    raise SystemExit(f"bluez stand-in: {what} did not come up within {seconds} s")


def main():
    standin = StandIn()
    print("ready", standin.address, flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "quit":
                break
            try:
                handler = getattr(standin, words[0])
                value = handler(*words[1:])
                print("ok" if value is None else f"ok {value}", flush=True)
            except Exception as e:  # pylint: disable=broad-except
                print(f"err {type(e).__name__}: {e}".replace("\n", " "), flush=True)
    finally:
        standin.close()


if __name__ == "__main__":
    main()
