package api

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/pkg/adminapi"
)

// filled sets every field of v, all the way down, so no field can be left
// out of a conversion unseen.
func filled[T any]() T {
	var v T
	fill(reflect.ValueOf(&v).Elem())
	return v
}

func fill(v reflect.Value) {
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}

// TestWireIsTheDomainsJSON: each pkg/adminapi type the API answers with
// encodes exactly as the domain value it comes from did, filled or empty,
// so moving to the exported types changed no byte on the wire.
func TestWireIsTheDomainsJSON(t *testing.T) {
	same := func(name string, domain, wire any) {
		t.Helper()
		want, _ := json.Marshal(domain)
		got, _ := json.Marshal(wire)
		if string(got) != string(want) {
			t.Errorf("%s:\nwire   %s\ndomain %s", name, got, want)
		}
	}
	for _, empty := range []bool{false, true} {
		pick := func(full, zero any) any {
			if empty {
				return zero
			}
			return full
		}
		cv := pick(filled[admin.ClientView](), admin.ClientView{}).(admin.ClientView)
		same("Application", cv, toApplication(cv, ""))
		type withSecret struct {
			admin.ClientView
			Secret string `json:"client_secret,omitempty"`
		}
		same("Application with secret", withSecret{cv, "s3cret"}, toApplication(cv, "s3cret"))
		uv := pick(filled[admin.UserView](), admin.UserView{}).(admin.UserView)
		same("User", uv, toUser(uv))
		ev := pick(filled[audit.Event](), audit.Event{}).(audit.Event)
		same("AuditEvent", ev, toAuditEvent(ev))
		rec := pick(filled[policy.Record](), policy.Record{}).(policy.Record)
		same("Policy", rec, toPolicy(rec))
		if back := fromSettings(toSettings(rec.Policy)); !reflect.DeepEqual(back, rec.Policy) {
			t.Errorf("settings do not survive the wire: %+v, want %+v", back, rec.Policy)
		}
		pv := pick(filled[admin.PolicyVersion](), admin.PolicyVersion{}).(admin.PolicyVersion)
		same("PolicyVersion", pv, toPolicyVersion(pv))
		gr := pick(filled[admin.GroupReport](), admin.GroupReport{}).(admin.GroupReport)
		same("GroupReport", gr, toGroupReport(gr))
		fc := pick(filled[identity.FieldChange](), identity.FieldChange{}).(identity.FieldChange)
		same("FieldChange", fc, adminapi.FieldChange(fc))
	}
}

// TestApplyApplicationSetsEveryField: a registration given in full sets
// every field of clients.Registration, and an empty one changes nothing.
func TestApplyApplicationSetsEveryField(t *testing.T) {
	in := filled[adminapi.ApplicationInput]()
	in.JWKS = new(json.RawMessage(`{"keys":[]}`))
	var reg clients.Registration
	applyApplication(in, &reg)
	v := reflect.ValueOf(reg)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("applyApplication leaves %s unset", v.Type().Field(i).Name)
		}
	}
	before := reg
	applyApplication(adminapi.ApplicationInput{}, &reg)
	if !reflect.DeepEqual(reg, before) {
		t.Errorf("an empty change changed %+v to %+v", before, reg)
	}
}
