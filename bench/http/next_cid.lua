-- wrk script for GET /next-cid: varied destinations over many area codes, rotating agents.
--   wrk -t2 -c64 -d10s -s bench/http/next_cid.lua http://127.0.0.1:18082
-- Environment: CIDROT_BENCH_CAMPAIGN (default "bench"), CIDROT_BENCH_TTL (lease seconds,
-- default 1 so that a long run does not pile up millions of leases), CIDROT_BENCH_NPAS (draw
-- destinations from the first N area codes below only; 1 = every lease from the 100 numbers of
-- one area code, 200 = only area codes the bench pool holds).

local campaign = os.getenv("CIDROT_BENCH_CAMPAIGN") or "bench"
local ttl = os.getenv("CIDROT_BENCH_TTL") or "1"

-- Area codes across every US time zone, plus Canada (the pool in run.sh covers the first 200;
-- the rest exercise the overlay/state/nearby/time-zone fallbacks).
local npas = {
  201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224,
  225, 228, 229, 231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270,
  272, 276, 281, 301, 302, 303, 304, 305, 307, 308, 309, 310, 312, 313, 314, 315, 316, 317,
  318, 319, 320, 321, 323, 325, 330, 331, 334, 336, 337, 339, 346, 347, 351, 352, 360, 361,
  385, 386, 401, 402, 404, 405, 406, 407, 408, 409, 410, 412, 413, 414, 415, 417, 419, 423,
  424, 425, 430, 432, 434, 435, 440, 442, 443, 469, 470, 475, 478, 479, 480, 484, 501, 502,
  503, 504, 505, 507, 508, 509, 510, 512, 513, 515, 516, 517, 518, 520, 530, 531, 534, 539,
  540, 541, 551, 559, 561, 562, 563, 567, 570, 571, 573, 574, 575, 580, 585, 586, 601, 602,
  603, 605, 606, 607, 608, 609, 610, 612, 614, 615, 616, 617, 618, 619, 620, 623, 626, 628,
  629, 630, 631, 636, 641, 646, 650, 651, 657, 660, 661, 662, 667, 669, 678, 681, 682, 701,
  702, 703, 704, 706, 707, 708, 712, 713, 714, 715, 716, 717, 718, 719, 720, 724, 725, 727,
  731, 732, 734, 737, 740, 747, 754, 757, 760, 762, 763, 765, 769, 770, 772, 773, 774, 775,
  779, 781, 785, 786, 801, 802, 803, 804, 805, 806, 808, 810, 812, 813, 814, 815, 816, 817,
  818, 828, 830, 831, 832, 843, 845, 847, 848, 850, 856, 857, 858, 859, 860, 862, 863, 864,
  865, 870, 872, 878, 901, 903, 904, 906, 907, 908, 909, 910, 912, 913, 914, 915, 916, 917,
  918, 919, 920, 925, 928, 929, 931, 936, 937, 940, 941, 947, 949, 951, 952, 954, 956, 970,
  971, 972, 973, 978, 979, 980, 985, 989, 416, 514, 604, 403, 613, 905,
}

local spread = math.min(tonumber(os.getenv("CIDROT_BENCH_NPAS") or #npas), #npas)

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  math.randomseed(os.time() + id * 7919)
  n = 0
end

function request()
  n = n + 1
  local npa = npas[math.random(spread)]
  -- Exchange NXX: 2-9 first; never N11.
  local nxx = math.random(2, 9) * 100 + math.random(0, 9) * 10 + math.random(2, 9)
  local path = string.format("/next-cid?to=%d%03d%04d&campaign=%s&agent=agent%d_%d&ttl=%s",
                             npa, nxx, math.random(0, 9999), campaign, id, n % 256, ttl)
  return wrk.format("GET", path)
end
