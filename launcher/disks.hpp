#pragma once
// Creates the files behind a VMI's disks (the I/O half of plan_disks()):
//  - containerDisk: a qcow2 overlay in the ephemeral dir over the image's disk; the image's file
//    is only ever read (its format is probed by qemu-img and recorded in the overlay).
//  - emptyDisk: a fresh qcow2 of the given capacity.
//  - persistentVolumeClaim (filesystem mode): <mount>/disk.img, created sparse with the file
//    system's capacity when missing; never touched when present.
//  - cloudInitNoCloud: an ISO 9660 image labelled "cidata" with meta-data, user-data and
//    network-config (when given), built with genisoimage; cloudInitConfigDrive: labelled
//    "config-2" with openstack/latest/{meta_data.json,user_data,network_data.json}. User and
//    network data from a Secret are read from its mount (keys userdata/userData,
//    networkdata/networkData).
//  - configMap, secret, serviceAccount, downwardAPI, sysprep: an ISO of the files the kubelet
//    mounted (its "..data" bookkeeping left out), labelled volumeLabel (default "cfgdata";
//    sysprep "unattendCD", which must hold autounattend.xml or unattend.xml).
// Needs qemu-img (qemu-utils) and genisoimage on PATH.

#include <vector>

#include "core/result.hpp"
#include "launcher/domain_builder.hpp"

namespace kv::launcher {

// Prepares every disk in order; the first failure stops and is returned with the disk's name.
core::Status prepare_disks(const std::vector<DiskPlan>& disks);

// One disk (exposed for tests).
core::Status prepare_disk(const DiskPlan& disk);

}  // namespace kv::launcher
