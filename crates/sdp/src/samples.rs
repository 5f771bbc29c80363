//! Real-world SDP bodies shared by the unit tests (addresses moved to documentation ranges).

/// SIPp's built-in uac scenario.
pub(crate) const SIPP_PCMU: &str = "v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

/// SIPp-style, PCMA only, static payload type without rtpmap, bare LF line ends.
pub(crate) const SIPP_PCMA: &str = "v=0\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\n\
s=-\n\
c=IN IP4 127.0.0.1\n\
t=0 0\n\
m=audio 6002 RTP/AVP 8\n";

/// Linphone: many codecs, telephone-event at three rates, a video line.
pub(crate) const LINPHONE: &str = "v=0\r\n\
o=alice 3203 1190 IN IP4 192.0.2.20\r\n\
s=Talk\r\n\
c=IN IP4 192.0.2.20\r\n\
t=0 0\r\n\
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
a=record:off\r\n\
m=audio 7078 RTP/AVP 96 97 98 9 0 8 18 101 99 100\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 useinbandfec=1\r\n\
a=rtpmap:97 speex/16000\r\n\
a=fmtp:97 vbr=on\r\n\
a=rtpmap:98 speex/8000\r\n\
a=fmtp:98 vbr=on\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=yes\r\n\
a=rtpmap:101 telephone-event/48000\r\n\
a=rtpmap:99 telephone-event/16000\r\n\
a=rtpmap:100 telephone-event/8000\r\n\
a=rtcp-fb:* trr-int 1000\r\n\
a=rtcp-fb:* ccm tmmbr\r\n\
m=video 9078 RTP/AVP 96\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtcp-fb:* nack pli\r\n";

/// Asterisk: G722 first, then PCMA and PCMU, telephone-event, ptime and maxptime.
pub(crate) const ASTERISK: &str = "v=0\r\n\
o=- 1234567890 1234567890 IN IP4 192.0.2.5\r\n\
s=Asterisk\r\n\
c=IN IP4 192.0.2.5\r\n\
t=0 0\r\n\
m=audio 10000 RTP/AVP 9 8 0 101\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:30\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n";

/// IPv6 only.
pub(crate) const IPV6: &str = "v=0\r\n\
o=- 1 1 IN IP6 2001:db8::1\r\n\
s=-\r\n\
c=IN IP6 2001:db8::1\r\n\
t=0 0\r\n\
m=audio 5004 RTP/AVP 8 0\r\n";

/// A re-INVITE putting us on hold with `a=sendonly`.
pub(crate) const HOLD_SENDONLY: &str = "v=0\r\n\
o=user1 53655765 2353687638 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=sendonly\r\n";

/// RFC 2543 hold: `c=0.0.0.0`, no direction attribute.
pub(crate) const HOLD_ZERO_ADDRESS: &str = "v=0\r\n\
o=user1 53655765 2353687639 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 0.0.0.0\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0\r\n";

/// Only codecs we do not have.
pub(crate) const NO_COMMON_CODEC: &str = "v=0\r\n\
o=- 7 7 IN IP4 192.0.2.7\r\n\
s=-\r\n\
c=IN IP4 192.0.2.7\r\n\
t=0 0\r\n\
m=audio 4000 RTP/AVP 18 9 96\r\n\
a=rtpmap:18 G729/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:96 opus/48000/2\r\n";

/// Audio plus T.38 (`m=image`), which ezk-sdp-types' own m-line grammar does not know.
pub(crate) const AUDIO_AND_T38: &str = "v=0\r\n\
o=gw 100 200 IN IP4 192.0.2.30\r\n\
s=-\r\n\
c=IN IP4 192.0.2.30\r\n\
t=0 0\r\n\
m=image 5100 udptl t38\r\n\
a=T38FaxVersion:0\r\n\
m=audio 5000 RTP/AVP 8 101\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n";
