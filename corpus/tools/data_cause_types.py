# -*- coding: utf-8 -*-
"""Hand classification of causes (attrs.type on Cause entities), for root-cause statistics."""
TYPES = {
 "二次回路与接线": """ac-dc-terminal-adjacent aux-contact-poor breaker-aux-contact cable-insulation-damage cable-interference
   control-dc-loss ct-ground-wrong ct-polarity-wrong ct-secondary-open ct-terminal-loose dc-air-switch-trip
   disconnector-aux-contact failure-contact-stuck meter-wiring-error meter-wiring-loose pt-air-switch-trip pt-fuse-blown
   pt-switching-relay pt-terminal-loose remote-trip-input-error rs485-wiring trip-coil-open wiring-loose zero-ct-wrong
   ct-direction-wrong wiring-n-pe-mixed terminal-loose-overheat sync-voltage-missing tap-encoding-error transmitter-fault
   connector-poor-contact fuse-or-connector-open pv-reverse-polarity motor-power-loss estop-contact-poor cp-circuit-fault
   gas-relay-water di-power-loss remote-signal-bounce""",
 "装置硬件": """ac-plugin-fault ad-reference-drift device-insulation-fault device-nic-fault di-channel-fault lcd-aging
   memory-fault output-relay-fault panel-cable-loose psu-aging fiber-plugin-fault optical-module-fault mu-fault
   igbt-damage imd-fault insul-monitor-fault esam-chip-fault meter-clock-battery meter-internal-fault meter-relay-fault
   meter-relay-overload meter-cover-switch plc-module-fault module-component-aging module-fan-fail fan-fault
   elock-fault card-reader-fault charger-ctrl-hang charger-fault dc-contactor-fault gun-contact-wear gun-cable-damage
   host-hw-aging recorder-disk-fault switch-power-fault clock-drift antenna-fault clock-source-fault gc-column-drift
   battery-aging bms-hang module-backsheet-damage sts-fault liquid-cool-fault pcs-cooling-unit-fault meter-data-error
   mechanism-motor-fault pt-insulation-damage onu-fault lora-signal-weak sensor-power-loss oil-fitting-loose
   module-fault-derate battery-coolant-leak""",
 "配置与定值": """channel-clock-setting coeff-error ct-ratio-setting deadband-large di-debounce-short dt-setting-low
   fa-mode-setting float-voltage-wrong harmonic-setting-high interlock-rule-error ip-config-error limit-setting-wrong
   line-param-setting lvrt-setting-error motor-setting-mismatch osc-setting parallel-mode-setting pcs-setting-mismatch
   plugin-mismatch reclose-mode-setting recorder-config-error recorder-threshold-low rectifier-output-setting
   scd-config-mismatch setting-crc-error setting-out-of-range setting-wrong-value switch-vlan-config sync-setting-strict
   terminal-param-error timezone-error ntp-config-error ptp-domain-mismatch platform-param-error gateway-table-error
   master-table-mismatch double-point-mapping graph-binding-error protocol-type-mismatch serial-param-mismatch
   ve-policy-error ve-config-not-sync yk-permission-config audio-config role-config password-policy control-param-error
   local-limit-setting tariff-not-updated archive-error ct-ratio-archive-error meter-address-error model-param-error
   esam-key-mismatch debug-ip-mismatch debug-port-disabled string-config-short time-sync-loss terminal-clock-error""",
 "通信与网络": """b-code-loss comm-stall dispatch-network-fault fiber-break fiber-connector-dirty heartbeat-link-fault
   ii-zone-channel-fault isolation-device-fault mms-association-full mux-fault net-cable-loose network-loop
   optical-power-margin sdh-route-switch switch-not-ptp-aware wireless-signal-weak can-bus-fault meter-comm-loss
   plc-crosstalk wifi-router-change channel-flapping remote-cmd-not-delivered fault-signal-missing position-goose-invalid
   ve-tunnel-down ve-cert-expire nsm-cert-expire dt-cert-error""",
 "软件与服务进程": """db-service-stop disk-full frontend-process-fault gateway-process-hang process-memory-leak
   web-service-stop iedm-service-stop standby-not-sync agent-not-running offline-order-duplicate mu-sync-loss
   telemetry-bad-data""",
 "环境与安装": """cabinet-condensation dust-clog install-low-lying install-no-ventilation morning-dew outdoor-box-water
   room-ac-fault seal-failure surge-lightning antenna-blocked external-interference surface-pollution moa-moisture
   ac-cable-undersize large-array-capacitance pv-cable-damage pid-negative-bias module-shading carrier-gas-low
   distributed-capacitance""",
 "运行操作与人为因素": """plate-operation-error test-plate-mismatch trip-plate-off yk-plate-off remote-local-switch
   unauthorized-upgrade usb-access misconfig-route asset-not-registered estop-pressed gun-not-inserted tamper-suspected
   setting-power-loss position-not-sync pcs-local-mode schedule-conflict charge-not-ended""",
 "一次设备与电网": """breaker-pressure-low grid-disturbance grid-outage grid-voltage-high inrush-low-harmonic ct-saturation
   tap-mismatch fault-resistance-high mutual-coupling arc-suppression-compensation load-fluctuation air-in-oil
   real-transformer-fault real-pd-source dc-ground-interference dc-voltage-low dispatch-curtail ac-breaker-open
   aux-power-drop load-distribution-uneven voltage-time-logic""",
 "客户侧与车辆侧": """vehicle-bms-compat vehicle-demand-limit vehicle-insulation-low vehicle-obc-issue vehicle-side-lock
   bms-stop balance-or-setting card-invalid cc1-signal-abnormal aux-power-fault rcd-type-mismatch leakage-in-house
   load-over-limit usage-increase pv-unreported meter-protect-mode load-heavy-start load-surge meter-power-loss
   terminal-power-loss charger-power-loss backup-power-exhausted insulation-resistance-check""",
 "正常运行特性": """power-sharing soc-calibration soc-limit battery-voltage-window interlock-block double-confirm-fail
   bzt-block-input bzt-not-charged reclose-not-charged avc-block meter-error-out-of-tolerance""",
}
CAUSE_TYPE = {}
for t, slugs in TYPES.items():
    for s in slugs.split():
        assert s not in CAUSE_TYPE, s
        CAUSE_TYPE[s] = t

_EXTRA = {
 "运行操作与人为因素": "charge-plate-not-exit",
 "二次回路与接线": "fiber-cross-connect",
 "配置与定值": "id-setting-error bzt-no-current-check outage-event-config allocation-strategy",
 "一次设备与电网": "load-peak grid-background-harmonic",
 "一次设备与电网 ": "",
 "装置硬件": "capacitor-initial-unbalance ext-clock-input-loss counter-sensor-fault terminal-power-unstable hmi-hang matrix-switch-fault current-sensor-drift ups-battery-aging lcl-resonance",
 "环境与安装": "satellite-signal-anomaly",
 "通信与网络": "ve-throughput-limit brcb-buffer-overflow",
 "软件与服务进程": "firmware-defect",
}
for t, slugs in _EXTRA.items():
    for s in slugs.split():
        assert s not in CAUSE_TYPE, s
        CAUSE_TYPE[s] = t.strip()
